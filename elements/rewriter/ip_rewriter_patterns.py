"""IPRewriterPatterns: names patterns for the rewriters' input specs."""
from clickpy.lang.confstring import shift_word, split_words
from clickpy.runtime.element import Element

from clickpy.elements.rewriter import flow_table
from clickpy.elements.rewriter.rewriter_pattern import (PatternError, PatternSpec, define_pattern, find_pattern,
                                                        parse_pattern, undefine_patterns)


class IPRewriterPatterns(Element):
    """=c
    IPRewriterPatterns(NAME PATTERN, ...)

    =s nat
    specifies shared IPRewriter(n) patterns

    =d
    Gives names to rewriting patterns, so that rewriters' input specs can
    say 'pattern NAME FOUTPUT ROUTPUT'. Each argument is a NAME followed by
    a pattern, 'SADDR SPORT DADDR DPORT' (or 'SADDR DADDR' for the address
    rewriters), as in IPRewriter's input specs. Every rewriter naming a
    pattern shares it: a sequential port range ('1024-65535#') continues
    from one user to the next, and no two users hand out the same port to
    conflicting flows of one table. Names defined inside a compound element
    are visible only inside it.

    IPRewriterPatterns is configured before the rewriters.

    =e
    IPRewriterPatterns(to_world_pat 1.0.0.1 1024-65535# - -,
                       to_server_pat 2.0.0.1 1024-65535# - -);
    rw :: IPRewriter(pattern to_world_pat 0 1, pattern to_server_pat 0 1);

    =a IPRewriter, TCPRewriter, IPAddrRewriter
    """
    port_count = "0/0"
    processing = "a"
    arguments = None
    configure_phase = 20        # Click's CONFIGURE_PHASE_INFO: before the rewriters

    def configure(self, conf, errh):
        ok = True
        for arg in conf:
            name, rest = shift_word(arg)
            if not name:
                continue
            if find_pattern(self, name) is not None:
                errh.error(f"pattern '{name}' already defined")
                ok = False
                continue
            try:
                pattern = parse_pattern(split_words(rest), self)
            except PatternError as err:
                errh.error(str(err))
                ok = False
                continue
            if isinstance(pattern, PatternSpec):
                pattern = flow_table.Pattern(pattern)
            define_pattern(self, name, pattern)
        return ok

    def cleanup(self, stage):
        undefine_patterns(self)
