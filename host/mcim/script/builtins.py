"""The directives every script can use: `.reset`, `.echo`/`.note`, `.expect stop|continue`."""

from __future__ import annotations

from ..errors import BadInput
from .ast import Directive
from .directives import DirectiveContext, Policy, check_arity, register_directive


class Reset:
    """`.reset`: reset the card (warm reset where the transport can) and record the ATR."""

    def check(self, directive: Directive) -> None:
        check_arity(directive, positional=0, usage=".reset")

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        ctx.reset()


class Message:
    """`.echo TEXT` / `.note TEXT`: a line for the people reading the run (console, JSON, JUnit system-out)."""

    def check(self, directive: Directive) -> None:
        """Any words are fine."""

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        ctx.say(" ".join(directive.args))


class ExpectPolicy:
    """`.expect stop` (the default) ends the run at the first failed expectation; `.expect continue` records it
    and goes on (the run still fails)."""

    def check(self, directive: Directive) -> None:
        usage = ".expect stop|continue"
        check_arity(directive, positional=1, usage=usage)
        if directive.args[0] not in set(Policy):
            raise BadInput(f"unknown policy {directive.args[0]!r}", where=str(directive.pos), expected=usage)

    def run(self, directive: Directive, ctx: DirectiveContext) -> None:
        ctx.set_policy(Policy(directive.args[0]))


register_directive("reset", Reset())
register_directive("echo", Message())
register_directive("note", Message())
register_directive("expect", ExpectPolicy())
