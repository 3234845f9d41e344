"""The recipe's optional features (issue 10, 11): deploy-side data, client helpers."""
