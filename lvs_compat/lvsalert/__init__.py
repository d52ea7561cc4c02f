"""lvs.alert: turn mon's up/down verdicts into IPVS real-server changes."""
