"""Networking: sockets, socket streams, TCP and Unix connections, servers, TLS."""
