"""IPRewriterPatterns: names patterns for the rewriters' input specs."""
from clickpy.lang.confstring import shift_word, split_words
from clickpy.runtime.args import Arg, ArgError, parse_arguments
from clickpy.runtime.element import Element

from clickpy.elements.rewriter import flow_table
from clickpy.elements.rewriter.rewriter_pattern import (PatternError, PatternSpec, define_pattern, find_pattern,
                                                        parse_pattern, undefine_patterns)


def _named_patterns(texts, element):
    """IPRewriterPatterns' arguments, each 'NAME pattern...' -> [(name, Pattern)]."""
    named, errors, seen = [], [], set()
    for arg in texts:
        name, rest = shift_word(arg)
        if not name:
            continue
        if name in seen or find_pattern(element, name) is not None:
            errors.append(f"pattern '{name}' already defined")
            continue
        try:
            pattern = parse_pattern(split_words(rest), element)
        except PatternError as err:
            errors.append(str(err))
            continue
        seen.add(name)
        named.append((name, flow_table.Pattern(pattern) if isinstance(pattern, PatternSpec) else pattern))
    if errors:
        raise ArgError(*errors)
    return named


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
    defines_names = True  # a hot reload re-resolves the rewriters that use its patterns
    arguments = (Arg("NAME", _named_patterns, rest=True, doc="'NAME SADDR SPORT DADDR DPORT', any number"),)
    configure_phase = 20        # Click's CONFIGURE_PHASE_INFO: before the rewriters

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        for name, pattern in values["name"]:
            define_pattern(self, name, pattern)
        return True

    def cleanup(self, stage):
        undefine_patterns(self)
