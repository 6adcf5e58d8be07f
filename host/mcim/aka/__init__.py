"""UMTS/GSM authentication: Milenage (TS 35.206), AKA tokens and SQN handling (TS 33.102), and the USIM
AUTHENTICATE command (TS 31.102 §7.1.2)."""

from .apdu import (
    AuthContext,
    GsmAuthResult,
    SyncFailure,
    UmtsAuthResult,
    build_authenticate,
    parse_authenticate_response,
)
from .auth import (
    AuthVector,
    build_autn,
    build_auts,
    generate_vector,
    kc_from_ck_ik,
    open_autn,
    sres_from_res,
    verify_autn,
    verify_auts,
)
from .milenage import DEFAULT_CONSTANTS, Milenage, MilenageConstants, compute_opc
from .sqn import SqnManager

__all__ = [
    "DEFAULT_CONSTANTS", "AuthContext", "AuthVector", "GsmAuthResult", "Milenage", "MilenageConstants",
    "SqnManager", "SyncFailure", "UmtsAuthResult", "build_authenticate", "build_autn", "build_auts",
    "compute_opc", "generate_vector", "kc_from_ck_ik", "open_autn", "parse_authenticate_response",
    "sres_from_res", "verify_autn", "verify_auts",
]
