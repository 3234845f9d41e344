"""`asyncapi export`: the stack `up` converges, rendered as a CloudFormation template and its API as OpenAPI.

Both come from the units stack.py builds (the same attribute maps `up` sends to AWS), never from a
second hand-written description of the stack.
"""
