"""The embedded API Gateway data plane: a short chain of handlers over one invocation context.

Modelled on LocalStack's next-gen API Gateway (services/apigateway/next_gen/execute_api): parse, route,
check keys and limits, validate, build the integration request, invoke (an integration looked up by
type), map the integration response; typed gateway errors rendered in one place.
"""
