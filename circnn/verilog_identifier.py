"""Names that become a Verilog module name and a file name (``circnn generate --top``).

A simple Verilog identifier -- a letter or ``_``, then letters, digits,
``_`` or ``$`` -- that is no Verilog or SystemVerilog keyword (yosys reads
the output as SystemVerilog) is a valid module name and, with ``.v``
appended, a plain file name: no folder separator, no ``..``, no space, so a
file named after it stays in its output folder.
"""

from __future__ import annotations

import re

from .errors import CircnnError

__all__ = ["check_verilog_identifier", "VERILOG_KEYWORDS", "MAX_IDENTIFIER_LENGTH"]

#: Longest name accepted: ``<name>.v`` and the like fit a 255-byte file name.
MAX_IDENTIFIER_LENGTH = 200

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")

#: The reserved keywords of IEEE 1800-2017 (SystemVerilog, Annex B), which
#: include every keyword of IEEE 1364-2005 (Verilog).
VERILOG_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup coverpoint
cross deassign default defparam design disable dist do edge else end endcase endchecker endclass
endclocking endconfig endfunction endgenerate endgroup endinterface endmodule endpackage
endprimitive endprogram endproperty endspecify endsequence endtable endtask enum event eventually
expect export extends extern final first_match for force foreach forever fork forkjoin function
generate genvar global highz0 highz1 if iff ifnone ignore_bins illegal_bins implements implies
import incdir include initial inout input inside instance int integer interconnect interface
intersect join join_any join_none large let liblist library local localparam logic longint
macromodule matches medium modport module nand negedge nettype new nexttime nmos nor
noshowcancelled not notif0 notif1 null or output package packed parameter pmos posedge primitive
priority program property protected pull0 pull1 pulldown pullup pulsestyle_ondetect
pulsestyle_onevent pure rand randc randcase randsequence rcmos real realtime ref reg reject_on
release repeat restrict return rnmos rpmos rtran rtranif0 rtranif1 s_always s_eventually
s_nexttime s_until s_until_with scalared sequence shortint shortreal showcancelled signed small
soft solve specify specparam static string strong strong0 strong1 struct super supply0 supply1
sync_accept_on sync_reject_on table tagged task this throughout time timeprecision timeunit tran
tranif0 tranif1 tri tri0 tri1 triand trior trireg type typedef union unique unique0 unsigned
until until_with untyped use uwire var vectored virtual void wait wait_order wand weak weak0
weak1 while wildcard wire with within wor xnor xor
""".split())


def check_verilog_identifier(name, flag: str) -> str:
    """``name`` if it is a simple Verilog identifier and no keyword, else a CircnnError
    naming ``flag`` and what is allowed."""
    allowed = (f"a Verilog identifier ([A-Za-z_][A-Za-z0-9_$]*, at most "
               f"{MAX_IDENTIFIER_LENGTH} characters, not a keyword)")
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise CircnnError(f"{flag} {name!r}: must be {allowed}")
    if len(name) > MAX_IDENTIFIER_LENGTH:
        raise CircnnError(f"{flag}: {len(name)} characters; must be {allowed}")
    if name in VERILOG_KEYWORDS:
        raise CircnnError(f"{flag} {name!r}: is a Verilog keyword; must be {allowed}")
    return name
