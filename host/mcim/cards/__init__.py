"""Card objects that run inside the host: test cards for the transports (the reference UICC lives in refcard).

A card object has `atr()`, `power_on()`, `power_off()`, `reset()` and `process(command) -> response`
(`mcim.transport.inprocess.Card`); the same object runs in-process or behind pcscd through `serve_vpcd`.
"""
