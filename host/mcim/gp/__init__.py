"""GlobalPlatform on the host: keys and diversification, the SCP02/SCP03 secure channels, card content management
and CAP files.  `crypto` holds the symmetric primitives the OTA (SCP80) code shares."""
