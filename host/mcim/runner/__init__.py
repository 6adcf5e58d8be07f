"""Running `.apdu` scripts: the driver loop, expectations, trace recording and reports."""

from .engine import run_script
from .report import junit_xml, print_console, result_to_json, write_atomic
from .result import Kind, Outcome, RunResult, Status, StepResult, TraceEntry
from .trace import Redactor, trace_lines

__all__ = ["Kind", "Outcome", "Redactor", "RunResult", "Status", "StepResult", "TraceEntry", "junit_xml",
           "print_console", "result_to_json", "run_script", "trace_lines", "write_atomic"]
