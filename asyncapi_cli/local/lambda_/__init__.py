"""The embedded Lambda runtime: function code, sandboxes, warm workers and the zygote they fork from."""
