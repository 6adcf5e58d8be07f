"""Running `.apdu` scripts: the driver loop, expectations, trace recording and reports."""

from .engine import run_script
from .report import junit_xml, result_to_json
from .result import Kind, Outcome, RunResult, Status, StepResult, TraceEntry
from .trace import Redactor, trace_lines

__all__ = ["Kind", "Outcome", "Redactor", "RunResult", "Status", "StepResult", "TraceEntry", "junit_xml",
           "result_to_json", "run_script", "trace_lines"]
