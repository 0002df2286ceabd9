# cython: language_level=3
"""RoundRobinIPMapper: hands new flows to a list of patterns in turn."""
from libc.stdlib cimport calloc, free
from libc.string cimport memset

from clickpy.elements.rewriter.flow_table cimport (RW_DROP, SPEC_PATTERN, FlowKey, FlowMap, InputSpec, Pattern,
                                                   pattern_rewrite)
from clickpy.elements.rewriter.rewriter_base cimport IPMapper

from clickpy.lang.confstring import split_words
from clickpy.runtime.args import Arg, ArgError, Warned, each_argument, parse_arguments

from clickpy.elements.rewriter import flow_table
from clickpy.elements.rewriter.rewriter_pattern import PatternError, PatternSpec, parse_pattern_with_ports


def _pattern(str arg, int i, element):
    try:
        pattern, f, r = parse_pattern_with_ports(split_words(arg), element)
    except PatternError as err:
        raise ArgError(str(err)) from None
    return (flow_table.Pattern(pattern) if isinstance(pattern, PatternSpec) else pattern), f, r


_each_pattern = each_argument(_pattern)


def _mapper_patterns(texts, element):
    """RoundRobinIPMapper's arguments, each 'PATTERN FOUTPUT ROUTPUT' -> [(Pattern, foutput, routput)]."""
    if not texts:
        raise ArgError("no patterns given")
    warnings = ["only one pattern given"] if len(texts) == 1 else []
    try:
        return Warned(_each_pattern(texts, element), warnings)
    except ArgError as e:
        raise ArgError(*e.args, warnings=warnings) from None


cdef class RoundRobinIPMapper(IPMapper):
    """=c
    RoundRobinIPMapper(PATTERN1, ..., PATTERNn)

    =s nat
    round-robin mapper for IPRewriter(n)

    =d
    An IPMapper: a rewriter input whose spec names this element asks it how
    to map each new flow. Each PATTERN is 'SADDR SPORT DADDR DPORT FOUTPUT
    ROUTPUT' (or a named pattern with its outputs), as in IPRewriter. New
    flows go to the patterns in turn; when a pattern has no free port or
    address left, the next one is tried, and the flow is dropped if none
    can map it.

    =e
    mapper :: RoundRobinIPMapper(1.0.0.1 - - - 0 1, 1.0.0.2 - - - 0 1);
    rw :: IPRewriter(mapper, drop);

    =a IPRewriter, TCPRewriter, IPRewriterPatterns
    """
    port_count = "0/0"
    processing = "a"
    arguments = (Arg("PATTERN", _mapper_patterns, rest=True, doc="'SADDR SPORT DADDR DPORT FOUTPUT ROUTPUT', one or more"),)
    configure_phase = 99        # Click's CONFIGURE_PHASE_MAPPER: just before the rewriters

    cdef InputSpec *_is
    cdef int _n
    cdef int _last
    cdef list _patterns

    def __cinit__(self, *args, **kwargs):
        self._is = NULL
        self._n = 0
        self._last = 0
        self._patterns = []

    def __dealloc__(self):
        free(self._is)

    def configure(self, conf, errh):
        cdef Pattern pat
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        parsed = values["pattern"]
        free(self._is)
        self._is = <InputSpec *> calloc(len(parsed), sizeof(InputSpec))
        if self._is == NULL:
            raise MemoryError()
        self._n = len(parsed)
        self._patterns = [p for p, _, _ in parsed]
        for i, (p, f, r) in enumerate(parsed):
            pat = <Pattern> p
            self._is[i].kind = SPEC_PATTERN
            self._is[i].pattern = pat.c
            self._is[i].foutput = f
            self._is[i].routput = r
        self._last = 0
        return True

    def notify_rewriter(self, rewriter, int input, errh):
        for i in range(self._n):
            if not (0 <= self._is[i].foutput < rewriter.noutputs and 0 <= self._is[i].routput < rewriter.noutputs):
                errh.error(f"output port out of range in {self.declaration()} pattern {i}")

    cdef int map_flow(self, InputSpec *input, const FlowKey *flowid, FlowKey *out, FlowMap *reply_map) noexcept:
        cdef int i, r
        cdef InputSpec *s
        for i in range(self._n):
            s = &self._is[self._last]
            self._last += 1
            if self._last == self._n:
                self._last = 0
            r = pattern_rewrite(s.pattern, flowid, out, reply_map)
            if r == RW_DROP:
                s.failures += 1
                continue
            input.foutput = s.foutput
            input.routput = s.routput
            return r
        return RW_DROP
