"""Reference UICC."""
