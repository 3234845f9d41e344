"""moto's server as the embedded AWS runs it: connections kept alive, requests dispatched without Flask."""
