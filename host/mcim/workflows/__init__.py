"""The TR 33.812 subcase 2b workflows, with the report's roles in their names:

EUM (factory bootstrap) -> DRF (registration) and PVA (platform validation) -> DPF (MCIM download over the air)
-> SHO (validation, change of subscription, upgrades).
"""
