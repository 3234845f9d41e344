"""The embedded WebSocket APIs: the server, its frames, its @connections control plane."""
