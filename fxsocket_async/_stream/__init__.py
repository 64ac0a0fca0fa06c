"""The stream wing: the WebSocket that carries out ``StreamProtocol``'s actions, the
fan-out buffers, the subscriptions users hold, and the recovery driver."""
