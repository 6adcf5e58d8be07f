"""The `.apdu` script format: typed AST, parser, canonical writer, includes, checks, directives and dialects.

Grammar and examples: apdu/README.md.  Running a script is `mcim.runner`'s job.
"""

from .ast import (
    Blank,
    Capture,
    CaptureSource,
    Command,
    Comment,
    DataPattern,
    DataRegex,
    Directive,
    EnvRef,
    Expect,
    FileRef,
    Include,
    Masked,
    Pos,
    Script,
    Section,
    SetVar,
    Statement,
    Step,
    SwPattern,
    Template,
    Var,
)
from .directives import (
    DirectiveContext,
    DirectiveHandler,
    Policy,
    Wrapper,
    directive_handlers,
    register_directive,
)
from .loader import CheckSummary, LoadedScript, check_file, check_script, load_script, resolve_includes
from .parser import ScriptErrors, parse_script
from .writer import format_script

__all__ = [
    "Blank", "Capture", "CaptureSource", "CheckSummary", "Command", "Comment", "DataPattern", "DataRegex",
    "Directive", "DirectiveContext", "DirectiveHandler", "EnvRef", "Expect", "FileRef", "Include", "LoadedScript",
    "Masked", "Policy", "Pos", "Script", "ScriptErrors", "Section", "SetVar", "Statement", "Step", "SwPattern",
    "Template", "Var", "Wrapper", "check_file", "check_script", "directive_handlers", "format_script", "load_script",
    "parse_script", "register_directive", "resolve_includes",
]
