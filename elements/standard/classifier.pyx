# cython: language_level=3, wraparound=True, boundscheck=True
"""Classifier: sends each packet to the output of the first pattern its bytes match.

The patterns compile into a decision DAG of 4-byte masked comparisons (Click's
"wordwise" program), which is then optimized the way Click optimizes it, so
the ``program`` handler prints the program Click would run:

* ``Insn`` is one step and ``Program`` the step list with the tree-building
  operations a pattern parser uses (``add_insn``, ``start_subtree``,
  ``finish_subtree`` with AND / OR / ternary, ``negate_subtree``) and the
  optimizer (sorting AND chains, dominator-based branch shifting, merging
  compatible steps, dropping unreachable ones). IPClassifier / IPFilter build
  their programs with the same class.
* ``CompressedProgram`` is Click's compact form that groups steps testing one
  word against several values (IPFilter prints programs in that form).
* ``CompiledProgram`` (classifier.pxd) is the C array the data path walks.

Only configuration touches the Python classes; a packet costs a walk over the
C array, and a batch is split into per-output batches with its order kept
within each output.
"""
from libc.stdint cimport uint32_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from cpython.pycapsule cimport PyCapsule_GetPointer

from clickpy.runtime.element cimport Element, OutputRun, run_add, run_flush, run_start
from clickpy.runtime.packet cimport Batch, Packet, pkt_data

import sys

from clickpy.runtime.fast_walk import FAST_WALK_CAPSULE, walk_fingerprint

cdef const char *FAST_WALK_CAPSULE_C = b"clickpy.fast_walk"
assert FAST_WALK_CAPSULE == "clickpy.fast_walk"

from clickpy.runtime.args import Arg, language, parse_arguments
from clickpy.runtime.handlers import Read

# Jump targets during construction (Click's values): an output is -port.
J_NEVER = -2147483647       # no output: the packet is dropped
J_FAILURE = -2147483646     # placeholder: "this subtree failed"
J_SUCCESS = -2147483645     # placeholder: "this subtree matched"

C_AND = 0
C_OR = 1
C_TERNARY = 2

OFFSET_MAX = 0x7FFFFFFF


def _jump_text(j):
    if j <= J_SUCCESS:
        return "[" + "X-+"[j - J_NEVER] + "]"
    if j <= 0:
        return f"[{-j}]"
    return f"step {j}"


class Insn:
    """One step: is (the word at offset) & mask == value?

    mask and value are big-endian integers: the most significant byte is
    the byte at ``offset``. ``j`` is [no, yes]; ``short_output`` (0 or 1)
    is the branch taken when the packet ends before the masked bytes.
    """
    __slots__ = ("offset", "mask", "value", "j", "short_output")

    def __init__(self, offset, value, mask, failure=J_FAILURE, success=J_SUCCESS, short_output=0):
        self.offset = offset
        self.mask = mask & 0xFFFFFFFF
        self.value = value & self.mask
        self.j = [failure, success]
        self.short_output = 1 if short_output else 0

    def copy(self):
        c = Insn.__new__(Insn)
        c.offset = self.offset
        c.mask = self.mask
        c.value = self.value
        c.j = list(self.j)
        c.short_output = self.short_output
        return c

    @property
    def yes(self):
        return self.j[1]

    @property
    def no(self):
        return self.j[0]

    def key(self):
        """What makes two steps the same test (jumps aside)."""
        return (self.offset & 0xFFFF, self.short_output, self.mask, self.value)

    def required_length(self):
        """Bytes the packet must have for this step to look at its data."""
        m = self.mask
        if m == 0:
            return 0
        if m & 0xFF:
            return self.offset + 4
        if m & 0xFF00:
            return self.offset + 3
        if m & 0xFF0000:
            return self.offset + 2
        return self.offset + 1

    # --- implications between steps, used by the optimizer --------------------
    # known_length: bytes the packet is known to have when this step runs.

    def _short_ok(self, direction, x, next_direction, known_length):
        if self.short_output != direction or self.offset + 4 <= known_length:
            return True
        r = self.required_length()
        return r <= known_length or (r <= x.required_length() and next_direction == x.short_output)

    def implies(self, x, known_length):
        """A packet that matches self must match x."""
        if not x.mask:
            return True
        if x.offset != self.offset or not self._short_ok(1, x, 1, known_length):
            return False
        both = self.mask & x.mask
        return both == x.mask and (self.value & both) == x.value

    def not_implies(self, x, known_length):
        """A packet that fails self must match x."""
        if not x.mask:
            return True
        if x.offset != self.offset or not self._short_ok(0, x, 1, known_length):
            return False
        m = self.mask
        return (m & (m - 1)) == 0 and m == x.mask and self.value != x.value

    def implies_not(self, x, known_length):
        """A packet that matches self must fail x."""
        if not x.mask or x.offset != self.offset or not self._short_ok(1, x, 0, known_length):
            return False
        both = self.mask & x.mask
        return both == x.mask and (self.value & both) != x.value

    def not_implies_not(self, x, known_length):
        """A packet that fails self must fail x."""
        if not self.mask:
            return True
        if x.offset != self.offset or not self._short_ok(0, x, 0, known_length):
            return False
        both = self.mask & x.mask
        return both == self.mask and self.value == (x.value & both)

    def compatible(self, x, consider_short):
        """Some packet could match both self and x."""
        if not self.mask or not x.mask:
            return True
        if x.offset != self.offset or (consider_short and x.short_output != self.short_output
                                       and self.required_length() < x.required_length()):
            return False
        both = self.mask & x.mask
        return (self.value & both) == (x.value & both)

    def generalizable_or_pair(self, x):
        """self, then x on its no branch, together test one bit less than self."""
        diff = self.value ^ x.value
        if (self.offset and x.offset == self.offset and self.mask and x.mask == self.mask
                and (self.short_output or not x.short_output) and self.yes == x.yes
                and (diff & (diff - 1)) == 0):
            test = Insn(self.offset, self.value & ~diff, self.mask & ~diff)
            return test.required_length() == self.required_length()
        return False

    def flippable(self):
        m = self.mask
        return m != 0 and (m & (m - 1)) == 0

    def flip(self):
        """Swap the branches of a single-bit test and test for the other value."""
        self.value ^= self.mask
        self.j[0], self.j[1] = self.j[1], self.j[0]
        self.short_output = 1 - self.short_output

    def unparse(self, align_offset=0):
        text = f"{self.offset - align_offset:3d}/{self.value:08x}%{self.mask:08x}"
        text += f"  yes->{_jump_text(self.yes)}  no->{_jump_text(self.no)}"
        if self.short_output:
            text += "  short->yes"
        return text

    def __repr__(self):
        return f"<Insn {self.unparse()}>"


def _map_offset(offset, offset_map):
    """offset_map is a flat sorted list of (from, to) pairs."""
    if not offset_map or offset < offset_map[0] or offset > offset_map[-2]:
        return offset
    b, e = 0, len(offset_map)
    while b != e:
        mid = b + (((e - b) >> 2) << 1)
        if offset_map[mid] == offset:
            return offset_map[mid + 1]
        elif offset_map[mid] < offset:
            b = mid + 2
        else:
            e = b
    return offset


class Program:
    """A wordwise decision program under construction, then optimized.

    Building: ``tree = p.init_subtree()``, then for each pattern
    ``p.start_subtree(tree)``, ``p.add_insn(tree, ...)`` for its tests,
    ``p.finish_subtree(tree, C_AND, -port, J_FAILURE)``; finally
    ``p.finish_subtree(tree, C_OR, J_NEVER, J_NEVER)`` and ``p.optimize()``.
    """

    def __init__(self, align_offset=0):
        self.insns = []
        self.output_everything = -J_NEVER
        self.safe_length = 0xFFFFFFFF
        self.align_offset = align_offset

    def ninsn(self):
        return len(self.insns)

    def back(self):
        return self.insns[-1]

    # --- building --------------------------------------------------------------

    def init_subtree(self):
        tree = [-1] * (len(self.insns) + 1)
        tree[0] = 0
        return tree

    def start_subtree(self, tree):
        tree[0] += 1

    def add_insn(self, tree, offset, value, mask):
        self.insns.append(Insn(offset, value, mask))
        tree.append(tree[0])
        self.output_everything = -1

    def _redirect(self, first, last, success, failure):
        for i in range(first, last):
            j = self.insns[i].j
            for k in (0, 1):
                if j[k] == J_SUCCESS:
                    j[k] = success
                elif j[k] == J_FAILURE:
                    j[k] = failure

    def finish_subtree(self, tree, combiner, success=J_SUCCESS, failure=J_FAILURE):
        """Combine the subtrees started since the matching start_subtree."""
        level = tree[0]
        n = len(self.insns)
        ptr = n
        while ptr > 0 and (tree[ptr] < 0 or tree[ptr] >= level):
            ptr -= 1
        subtrees = [p - 1 for p in range(ptr + 1, n + 1) if tree[p] == level]
        if subtrees:
            tree[subtrees[0] + 1] = level - 1
            for e in range(subtrees[0] + 2, n + 1):
                tree[e] = -1
            t = 0
            while t < len(subtrees) - 1:
                first, nxt = subtrees[t], subtrees[t + 1]
                if combiner == C_AND:
                    self._redirect(first, nxt, nxt, failure)
                elif combiner == C_OR:
                    self._redirect(first, nxt, success, nxt)
                elif combiner == C_TERNARY:
                    if t < len(subtrees) - 2:
                        nxt2 = subtrees[t + 2]
                        self._redirect(first, nxt, nxt, nxt2)
                        self._redirect(nxt, nxt2, success, failure)
                        t += 1
                    else:
                        self._redirect(first, nxt, nxt, failure)
                else:
                    self._redirect(first, nxt, success, failure)
                t += 1
            if t < len(subtrees):
                self._redirect(subtrees[t], n, success, failure)
        tree[0] -= 1

    def negate_subtree(self, tree, flip_short=False):
        """Swap success and failure in the last subtree (and short-packet results if asked)."""
        level = tree[0]
        first = len(self.insns) - 1
        while first >= 0 and tree[first + 1] != level:
            first -= 1
        if first < 0:
            return
        for i in range(first, len(self.insns)):
            e = self.insns[i]
            for k in (0, 1):
                if e.j[k] == J_FAILURE:
                    e.j[k] = J_SUCCESS
                elif e.j[k] == J_SUCCESS:
                    e.j[k] = J_FAILURE
            if flip_short:
                e.short_output = 1 - e.short_output

    def set_failure(self, failure):
        if self.output_everything == -J_FAILURE:
            self.output_everything = -failure
        for e in self.insns:
            for k in (0, 1):
                if e.j[k] == J_FAILURE:
                    e.j[k] = failure

    def add_or_program(self, other):
        """Append other; this program's failures continue into it."""
        if self.output_everything < 0 or self.output_everything == -J_FAILURE:
            failure = -other.output_everything
            if failure > 0:
                failure = len(self.insns)
            self.set_failure(failure)
            off = len(self.insns)
            for e in other.insns:
                c = e.copy()
                for k in (0, 1):
                    if c.j[k] > 0:
                        c.j[k] += off
                self.insns.append(c)

    # --- optimizing --------------------------------------------------------------

    def count_inbranches(self):
        """Per step: -1 if unreached, its only predecessor, or 0 for several (or step 0)."""
        inb = [-1] * len(self.insns)
        for i, e in enumerate(self.insns):
            for k in (0, 1):
                t = e.j[k]
                if t > 0:
                    inb[t] = 0 if inb[t] >= 0 else i
        return inb

    def bubble_sort_and_exprs(self, offset_map=(), last_offset=OFFSET_MAX):
        """Order the tests of AND chains by (mapped) offset, then mask, then value."""
        ins = self.insns
        inbranch = self.count_inbranches()
        i = 0
        while i < len(ins):
            e1 = ins[i]
            for k in (0, 1):
                j = e1.j[k]
                if j <= 0 or e1.offset >= last_offset or inbranch[j] <= 0:
                    continue
                e2 = ins[j]
                if e1.j[1 - k] != e2.j[1 - k]:
                    continue
                o1 = _map_offset(e1.offset, offset_map)
                o2 = _map_offset(e2.offset, offset_map)
                if o1 > o2 or (o1 == o2 and (e1.mask > e2.mask
                                             or (e1.mask == e2.mask and e1.value > e2.value))):
                    first = e2.copy()
                    second = e1.copy()
                    second.j[k] = e2.j[k]
                    first.j[k] = j
                    ins[i] = first
                    ins[j] = second
                    i = inbranch[i] - 1 if inbranch[i] > 0 else i - 1
                    break
            i += 1

    def remove_unused_states(self):
        ins = self.insns
        n = len(ins)
        if not n:
            return
        # Skip steps whose branches agree or that test nothing.
        dest = [-1] * n
        for i in range(n - 1, -1, -1):
            e = ins[i]
            for k in (0, 1):
                if e.j[k] > 0:
                    e.j[k] = dest[e.j[k]]
            if e.yes != e.no and e.mask != 0:
                dest[i] = i
            elif e.yes <= 0:
                dest[i] = e.yes
            else:
                dest[i] = dest[e.yes]
        self.output_everything = -1
        if dest[0] > 0:
            ins[0] = ins[dest[0]].copy()
        elif dest[0] < 0:
            self.output_everything = -dest[0]
        elif ins[0].yes == 0 and (ins[0].no == 0 or not ins[0].mask):
            self.output_everything = 0
        # Drop unreachable steps and renumber.
        dest = [-1] * n
        if self.output_everything < 0:
            dest[0] = 0
        nnew = 0
        for i in range(n):
            if dest[i] >= 0:
                dest[i] = nnew
                nnew += 1
                for k in (0, 1):
                    if ins[i].j[k] > 0:
                        dest[ins[i].j[k]] = 0
        for i in range(n):
            if dest[i] >= 0:
                j = dest[i]
                if j != i:
                    ins[j] = ins[i].copy()
                e = ins[j]
                for k in (0, 1):
                    if e.j[k] > 0:
                        e.j[k] = dest[e.j[k]]
        del ins[nnew:]

    def combine_compatible_states(self):
        ins = self.insns
        i = len(ins) - 1
        while i >= 0:
            e = ins[i]
            if e.no > 0:
                no_in = ins[e.no]
                if no_in.compatible(e, False) and e.flippable():
                    e.flip()
                elif e.generalizable_or_pair(no_in):
                    bit = e.value ^ no_in.value
                    e.value &= ~bit
                    e.mask &= ~bit
                    e.j[0] = no_in.no
                    continue
            if e.yes <= 0:
                i -= 1
                continue
            yes_in = ins[e.yes]
            if e.no == yes_in.yes and yes_in.flippable():
                yes_in.flip()
            if e.no == yes_in.no and yes_in.compatible(e, True):
                e.j[1] = yes_in.yes
                if not e.mask:
                    e.offset = yes_in.offset
                e.value = (e.value & e.mask) | (yes_in.value & yes_in.mask)
                e.mask |= yes_in.mask
                continue
            i -= 1

    def optimize(self, offset_map=(), last_offset=OFFSET_MAX):
        self.bubble_sort_and_exprs(offset_map, last_offset)
        dom = _DominatorOptimizer(self)
        for i in range(len(self.insns)):
            dom.run(i)
        self.combine_compatible_states()
        self.remove_unused_states()
        if not self.insns and self.output_everything < 0:
            self.output_everything = -J_NEVER
        elif self.output_everything >= 0:
            self.insns = []
        safe = 0
        for e in self.insns:
            safe = max(safe, e.required_length())
        self.safe_length = (safe - self.align_offset) & 0xFFFFFFFF

    # --- reporting ---------------------------------------------------------------

    def used_outputs(self, noutputs):
        used = [False] * noutputs
        if 0 <= self.output_everything < noutputs:
            used[self.output_everything] = True
        else:
            for e in self.insns:
                for k in (0, 1):
                    if e.j[k] <= 0 and -e.j[k] < noutputs:
                        used[-e.j[k]] = True
        return used

    def warn_unused_outputs(self, noutputs, errh):
        for i, u in enumerate(self.used_outputs(noutputs)):
            if not u:
                errh.warning(f"output {i} matches no packets")

    def unparse(self):
        lines = [f"{' ' if i < 10 else ''}{i} {e.unparse(self.align_offset)}\n"
                 for i, e in enumerate(self.insns)]
        if not self.insns:
            lines.append(f"all->[{self.output_everything}]\n")
        lines.append(f"safe length {self.safe_length}\n")
        lines.append(f"alignment offset {self.align_offset}\n")
        return "".join(lines)

    def match_python(self, data):
        """Reference walk in Python (tests): the output for bytes data."""
        if self.output_everything >= 0:
            return self.output_everything
        data = bytes(data)
        n = len(data) + self.align_offset
        data = bytes(self.align_offset) + data
        pos = 0
        while True:
            e = self.insns[pos]
            if e.offset + 4 > n and (e.offset >= n or e.required_length() > n):
                pos = e.j[e.short_output]
            else:
                word = int.from_bytes(data[e.offset:e.offset + 4].ljust(4, b"\0"), "big")
                pos = e.j[(word & e.mask) == e.value]
            if pos <= 0:
                return -pos


class _DominatorOptimizer:
    """Shifts branches past tests whose outcome the path to them already decides.

    For every step it keeps up to MAX_DOMLIST partial paths ("dominator
    lists": branch numbers 2*step + taken) such that every real path to the
    step contains one of them. A branch S.x -> T whose target test T is
    decided the same way by every list of S is moved to T's outcome, and so
    on down the chain. Steps no path can reach get J_NEVER branches and are
    removed later. Click's algorithm, restated.
    """
    MAX_DOMLIST = 4

    def __init__(self, prog):
        self.p = prog
        ins = prog.insns
        n = len(ins)
        self.known_length = [0x7FFFFFFF] * n
        if n:
            self.known_length[0] = 0
        for i, e in enumerate(ins):
            tested = max(e.required_length(), self.known_length[i])
            so = e.short_output
            t = e.j[1 - so]
            if t > 0 and tested < self.known_length[t]:
                self.known_length[t] = tested
            t = e.j[so]
            if t > 0 and self.known_length[i] < self.known_length[t]:
                self.known_length[t] = self.known_length[i]
        # Identical tests share an id: the lowest index holding that test.
        first = {}
        self.insn_id = [first.setdefault(e.key(), i) for i, e in enumerate(ins)]
        self.dom = []
        self.dom_start = [0]
        self.domlist_start = [0]
        self.pred_first = None

    # branch numbers
    @staticmethod
    def brno(state, br):
        return (state << 1) + (1 if br else 0)

    def br_implies(self, br, state):
        s = br >> 1
        kl = self.known_length[s]
        if br & 1:
            return self.p.insns[s].implies(self.p.insns[state], kl)
        return self.p.insns[s].not_implies(self.p.insns[state], kl)

    def br_implies_not(self, br, state):
        s = br >> 1
        kl = self.known_length[s]
        if br & 1:
            return self.p.insns[s].implies_not(self.p.insns[state], kl)
        return self.p.insns[s].not_implies_not(self.p.insns[state], kl)

    # predecessor lists: per state a linked list of branch numbers
    def _build_preds(self):
        ins = self.p.insns
        n = len(ins)
        self.pred_first = [-1] * n
        self.pred_next = [-1] * (2 * n)
        self.pred_prev = [-1] * (2 * n)
        for i in range(n):
            for k in (0, 1):
                t = ins[i].j[k]
                if t > 0:
                    br = self.brno(i, k)
                    self.pred_next[br] = self.pred_first[t]
                    if self.pred_first[t] >= 0:
                        self.pred_prev[self.pred_first[t]] = br
                    self.pred_first[t] = br

    def find_predecessors(self, state):
        if self.pred_first is None:
            self._build_preds()
        out = []
        br = self.pred_first[state]
        while br >= 0:
            out.append(br)
            br = self.pred_next[br]
        return out

    def set_branch(self, from_state, branch, to_state):
        e = self.p.insns[from_state]
        br = self.brno(from_state, branch)
        k = 1 if branch else 0
        if self.pred_first is not None:
            if e.j[k] > 0:
                if self.pred_prev[br] >= 0:
                    self.pred_next[self.pred_prev[br]] = self.pred_next[br]
                else:
                    self.pred_first[e.j[k]] = self.pred_next[br]
                if self.pred_next[br] >= 0:
                    self.pred_prev[self.pred_next[br]] = self.pred_prev[br]
            if to_state > 0:
                prev = -1
                nxt = self.pred_first[to_state]
                while nxt >= 0 and nxt < br:
                    prev = nxt
                    nxt = self.pred_next[nxt]
                self.pred_prev[br] = prev
                self.pred_next[br] = nxt
                if prev >= 0:
                    self.pred_next[prev] = br
                else:
                    self.pred_first[to_state] = br
                if nxt >= 0:
                    self.pred_prev[nxt] = br
        e.j[k] = to_state

    def calculate_dom(self, state):
        dom = self.dom
        insn_id = self.insn_id
        preds = self.find_predecessors(state)
        pdom = []
        pdom_end = []
        for i, pred_br in enumerate(preds):
            s = pred_br >> 1
            # both branches of s lead here: s's test tells nothing
            if i > 0 and (preds[i - 1] >> 1) == s:
                if pdom_end:
                    pdom_end[-1] -= 1
                continue
            pred_brid = self.brno(insn_id[s], pred_br & 1)
            for jj in range(self.domlist_start[s], self.domlist_start[s + 1]):
                pos1, pos2 = self.dom_start[jj], self.dom_start[jj + 1]
                impossible = False
                for k in range(pos1, pos2 - 1):
                    if (dom[k] ^ pred_brid) == 1:
                        impossible = True
                        break
                if impossible:
                    continue
                pdom.append(pos1)
                pdom_end.append(pos2)
                dom[pos2 - 1] = pred_brid

        dom_start_oldsize = len(self.dom_start)
        if len(pdom) > self.MAX_DOMLIST:
            _intersect_lists(dom, pdom, pdom_end, 0, len(pdom), dom)
            dom.append(self.brno(insn_id[state], False))
            self.dom_start.append(len(dom))
        elif pdom:
            mybr = self.brno(insn_id[state], False)
            num_mybr = 0
            for p in range(len(pdom)):
                endpos = pdom_end[p] - 1
                last_pdom_br = dom[endpos]
                pred_mybr = -1
                for i in range(pdom[p], endpos + 1):
                    thisbr = dom[i]
                    if i < endpos and (thisbr ^ last_pdom_br) <= 1:
                        continue
                    if (thisbr ^ mybr) <= 1:
                        pred_mybr = thisbr
                    dom.append(thisbr)
                if num_mybr >= 0 and pred_mybr >= 0 and (num_mybr == 0 or mybr == pred_mybr):
                    mybr = pred_mybr
                    num_mybr += 1
                else:
                    num_mybr = -1
                dom.append(mybr)
                self.dom_start.append(len(dom))
            # every path decides this state's test the same way: skip it
            if num_mybr > 0:
                new_state = self.p.insns[state].j[mybr & 1]
                for br in preds:
                    self.set_branch(br >> 1, br & 1, new_state)
                pdom = []

        if not pdom:
            del dom[self.dom_start[dom_start_oldsize - 1]:]
            del self.dom_start[dom_start_oldsize:]
            if state > 0:
                self.set_branch(state, 0, J_NEVER)
                self.set_branch(state, 1, J_NEVER)
            else:
                dom.append(self.brno(state, False))
                self.dom_start.append(len(dom))
        self.domlist_start.append(len(self.dom_start) - 1)

    def dom_shift_branch(self, br, to_state, d, d_end, collector):
        br = self.brno(self.insn_id[br >> 1], br & 1)
        self.dom[d_end - 1] = br
        if collector is not None:
            collector.append(to_state)
        while to_state > 0:
            for j in range(d_end - 1, d - 1, -1):
                if self.br_implies(self.dom[j], to_state):
                    to_state = self.p.insns[to_state].yes
                    break
                elif self.br_implies_not(self.dom[j], to_state):
                    to_state = self.p.insns[to_state].no
                    break
            else:
                break
            if collector is not None:
                collector.append(to_state)
        return to_state

    def shift_branch(self, state, branch):
        nexts = self.p.insns[state].j[1 if branch else 0]
        br = self.brno(state, branch)
        ds, de = self.domlist_start[state], self.domlist_start[state + 1]
        if ds == de or nexts <= 0:
            new_nexts = nexts
        elif ds + 1 == de:
            new_nexts = self.dom_shift_branch(br, nexts, self.dom_start[ds], self.dom_start[ds + 1], None)
        else:
            vals, start, end = [], [], []
            for d in range(ds, de):
                start.append(len(vals))
                self.dom_shift_branch(br, nexts, self.dom_start[d], self.dom_start[d + 1], vals)
                end.append(len(vals))
            new_nexts = _last_common_state(vals, start, end)
        if new_nexts != nexts:
            self.set_branch(state, branch, new_nexts)

    def run(self, state):
        self.calculate_dom(state)
        self.shift_branch(state, True)
        self.shift_branch(state, False)


def _intersect_lists(inp, start, end, pos1, pos2, out):
    """Append to out the values on every list inp[start[i]:end[i]], pos1 <= i < pos2
    (lists ascending)."""
    if pos1 == pos2:
        return
    if pos2 - pos1 == 1:
        out.extend(inp[start[pos1]:end[pos1]])
        return
    pos = list(start)
    x = -1
    while True:
        p = pos1
        k = 0
        while k < pos2 - pos1:
            while pos[p] < end[p] and inp[pos[p]] < x:
                pos[p] += 1
            if pos[p] >= end[p]:
                return
            if inp[pos[p]] > x:
                x = inp[pos[p]]
                k = 0
            p += 1
            if p == pos2:
                p = pos1
            k += 1
        out.append(x)
        x += 1


def _last_common_state(vals, start, end):
    s = vals[end[0] - 1]
    if s <= 0 and all(vals[end[j] - 1] == s for j in range(1, len(start))):
        return s
    common = []
    _intersect_lists(vals, start, end, 0, len(start), common)
    return common[-1]


class CompressedProgram:
    """Click's compact program: consecutive steps testing one word against
    several values become one test with a value list (IPFilter's form).

    ``words`` holds, per test: offset | short_output << 16 | nvalues << 17,
    no, yes (relative word jumps when positive, else -output), mask, then
    the values (big-endian integers here).
    """

    def __init__(self):
        self.words = []
        self.output_everything = -J_NEVER
        self.safe_length = 0xFFFFFFFF
        self.align_offset = 0

    def compile(self, prog, perform_binary_search=True, min_binary_search=4):
        z = self.words = []
        self.output_everything = prog.output_everything
        self.safe_length = prog.safe_length
        self.align_offset = prog.align_offset
        ins = prog.insns
        n = len(ins)
        wanted = [0] * (n + 1)
        wanted[0] = 1
        for i, e in enumerate(ins):
            if wanted[i]:
                for k in (0, 1):
                    if e.j[k] > 0:
                        wanted[e.j[k]] += 1
        offsets = []
        for i in range(n):
            off = len(z)
            offsets.append(off)
            if wanted[i] == 0:
                continue
            e = ins[i]
            z.extend([e.offset + (0x10000 if e.short_output else 0) + 0x20000,
                      e.no, e.yes, e.mask, e.value])
            while True:
                no = z[off + 1]
                if not (no > 0 and wanted[no] == 1 and ins[no].yes == e.yes
                        and ins[no].offset == e.offset and ins[no].mask == e.mask):
                    break
                z[off] += 0x20000
                z[off + 1] = ins[no].no
                z.append(ins[no].value)
                wanted[no] -= 1
            nvals = z[off] >> 17
            if perform_binary_search and nvals >= min_binary_search:
                z[off + 4:off + 4 + nvals] = sorted(z[off + 4:off + 4 + nvals],
                                                    key=_host_order_key)
        offsets.append(len(z))
        for i in range(n):
            off = offsets[i]
            if off < len(z) and off < offsets[i + 1]:
                for k in (1, 2):
                    if z[off + k] > 0:
                        z[off + k] = offsets[z[off + k]] - off
        return self

    def used_outputs(self, noutputs):
        used = [False] * noutputs
        z = self.words
        if 0 <= self.output_everything < noutputs:
            used[self.output_everything] = True
        else:
            i = 0
            while i < len(z):
                for k in (1, 2):
                    o = z[i + k]
                    if o <= 0 and -o < noutputs:
                        used[-o] = True
                i += 4 + (z[i] >> 17)
        return used

    def warn_unused_outputs(self, noutputs, errh):
        for i, u in enumerate(self.used_outputs(noutputs)):
            if not u:
                errh.warning(f"output {i} matches no packets")

    def unparse(self):
        z = self.words
        stepno = [0] * len(z)
        i = 0
        while i < len(z):
            nparts = z[i] >> 17
            if i + 4 + nparts < len(z):
                stepno[i + 4 + nparts] = stepno[i] + nparts
            i += 4 + nparts
        lines = []
        i = 0
        while i < len(z):
            nparts = z[i] >> 17
            for j in range(nparts):
                mystep = stepno[i] + j
                if j + 1 < nparts:
                    no = mystep + 1
                else:
                    no = z[i + 1]
                    if no > 0:
                        no = stepno[i + no]
                yes = z[i + 2]
                if yes > 0:
                    yes = stepno[i + yes]
                e = Insn((z[i] & 0xFFFF) - self.align_offset, z[i + 4 + j], z[i + 3], no, yes,
                         z[i] & 0x10000)
                lines.append(f"{' ' if mystep < 10 else ''}{mystep} {e.unparse()}\n")
            i += 4 + nparts
        if not z:
            lines.append(f"all->[{self.output_everything}]\n")
        lines.append(f"safe length {self.safe_length}\n")
        lines.append(f"alignment offset {self.align_offset}\n")
        return "".join(lines)


def _host_order_key(v):
    # Click sorts the raw words as host integers; match that order.
    return int.from_bytes(v.to_bytes(4, "big"), sys.byteorder)


# --- the C program -------------------------------------------------------------------

cdef uint32_t _memory_order(uint32_t big_endian):
    cdef unsigned char b[4]
    cdef uint32_t v
    b[0] = (big_endian >> 24) & 0xFF
    b[1] = (big_endian >> 16) & 0xFF
    b[2] = (big_endian >> 8) & 0xFF
    b[3] = big_endian & 0xFF
    memcpy(&v, b, 4)
    return v


cdef class CompiledProgram:
    """An optimized Program as a C array (see classifier.pxd)."""

    def __cinit__(self):
        self.insn = NULL
        self.fast = NULL
        self.ninsn = 0
        self.output_everything = 0
        self.safe_length = 0

    def __dealloc__(self):
        free(self.insn)

    @staticmethod
    def build(prog):
        """Compile an optimized Program; offsets are taken relative to the data start."""
        cdef CompiledProgram c = CompiledProgram()
        cdef int i, n = len(prog.insns)
        cdef uint32_t m
        c.output_everything = prog.output_everything if prog.output_everything >= 0 else -1
        # Click lets the fast walk load a whole word even when only its first
        # bytes are in the packet; here the fast walk needs every loaded byte
        # in the packet, so that no read ever leaves the buffer.
        c.safe_length = max([e.offset + 4 - prog.align_offset for e in prog.insns], default=0)
        if c.output_everything < 0 and n == 0:
            c.output_everything = -J_NEVER
        if n:
            c.insn = <WordInsn *> malloc(n * sizeof(WordInsn))
            if c.insn == NULL:
                raise MemoryError()
        c.ninsn = n
        for i in range(n):
            e = prog.insns[i]
            if e.offset - prog.align_offset < 0:
                raise ValueError("program step before the packet data")
            c.insn[i].offset = e.offset - prog.align_offset
            c.insn[i].mask = _memory_order(e.mask)
            c.insn[i].value = _memory_order(e.value)
            c.insn[i].j[0] = e.no
            c.insn[i].j[1] = e.yes
            c.insn[i].short_output = e.short_output
            m = e.mask
            c.insn[i].need = 0 if m == 0 else (4 if m & 0xFF else (3 if m & 0xFF00 else (2 if m & 0xFF0000 else 1)))
        return c

    def fast_walk(self):
        """The walk as data (for clickpy.specialize, clickpy.runtime.fast_walk):
        None when every packet goes one way, else a tuple of steps (0,
        offset, mask, values, miss, hit) over the data start."""
        cdef int i, k
        if self.output_everything >= 0 or self.ninsn == 0:
            return None
        steps = []
        for i in range(self.ninsn):
            ends = []
            for k in range(2):
                j = self.insn[i].j[k]
                ends.append(("step", j) if j > 0 else ("out", -j))
            steps.append((0, self.insn[i].offset, self.insn[i].mask, (self.insn[i].value,), ends[0], ends[1]))
        return tuple(steps)

    def specialize(self, capsule, str fingerprint):
        """Walk with capsule's C function if it was made for this program (see IPFilter.specialize)."""
        walk = self.fast_walk()
        if walk is None or walk_fingerprint(walk) != fingerprint:
            return False
        self.fast = <int (*)(const unsigned char **) noexcept nogil> PyCapsule_GetPointer(
            capsule, FAST_WALK_CAPSULE_C)
        return True

    cdef int checked_match(self, const unsigned char *data, uint32_t length) noexcept nogil:
        cdef const WordInsn *ex = self.insn
        cdef int pos = 0
        cdef uint32_t w, off
        while True:
            off = ex[pos].offset
            if off + 4 <= length:
                memcpy(&w, data + off, 4)
                pos = ex[pos].j[(w & ex[pos].mask) == ex[pos].value]
            elif off < length and ex[pos].need <= length - off:
                # the masked bytes are all in the packet: compare what is there
                w = 0
                memcpy(&w, data + off, length - off)
                pos = ex[pos].j[(w & ex[pos].mask) == ex[pos].value]
            else:
                pos = ex[pos].j[ex[pos].short_output]
            if pos <= 0:
                return -pos

    def match_bytes(self, data):
        """The output for a packet holding data (for tests and tools)."""
        cdef bytes b = bytes(data)
        return self.match(<const unsigned char *> b, len(b))


# --- parsing Classifier patterns ---------------------------------------------------------

def _nibble(c):
    """(value, mask) of one hex digit or '?'."""
    if c == "?":
        return 0, 0
    return int(c, 16), 0xF


def _patterns(texts, element, errh):
    """Classifier's arguments, one pattern per output -> the optimized Program."""
    if len(texts) != element.noutputs:
        return errh.error(f"need {element.noutputs} arguments, one per output port")
    prog = parse_patterns(texts, errh)
    if not errh.nerrors:
        prog.warn_unused_outputs(element.noutputs, errh)
    return prog


def parse_patterns(patterns, errh, align_offset=0):
    """Compile Classifier patterns into an optimized Program (errors go to errh)."""
    prog = Program(align_offset)
    tree = prog.init_subtree()
    prog.start_subtree(tree)
    hexdigits = set("0123456789abcdefABCDEF?")
    for slot, s in enumerate(patterns):
        i = 0
        n = len(s)
        empty = True
        prog.start_subtree(tree)
        if s == "-":
            i = 1
        while i < n:
            while i < n and s[i].isspace():
                i += 1
            if i >= n:
                break
            negated = False
            if s[i] == "!":
                negated = True
                i += 1
                while i < n and s[i].isspace():
                    i += 1
            if i >= n or not ("0" <= s[i] <= "9"):
                errh.error(f"pattern {slot}: expected a digit")
                break
            offset = 0
            while i < n and "0" <= s[i] <= "9":
                offset = offset * 10 + ord(s[i]) - 48
                i += 1
            if i >= n or s[i] != "/":
                errh.error(f"pattern {slot}: expected '/'")
                break
            i += 1
            value_pos = i
            while i < n and s[i] in hexdigits:
                i += 1
            value_end = i
            mask_pos = mask_end = -1
            if i < n and s[i] == "%":
                i += 1
                mask_pos = i
                while i < n and s[i] in hexdigits:
                    i += 1
                mask_end = i
            if value_end - value_pos < 2:
                errh.error(f"pattern {slot}: value has less than 2 hex digits")
                value_end = value_pos
                mask_end = mask_pos
            if (value_end - value_pos) % 2 != 0:
                errh.error(f"pattern {slot}: value has odd number of hex digits")
                value_end -= 1
                mask_end -= 1
            if mask_pos >= 0 and mask_end - mask_pos != value_end - value_pos:
                too_many = mask_end - mask_pos > value_end - value_pos
                errh.error(f"pattern {slot}: mask has too {'many' if too_many else 'few'} hex digits")
                if too_many:
                    mask_end = mask_pos + value_end - value_pos
                else:
                    value_end = value_pos + mask_end - mask_pos

            prog.start_subtree(tree)
            first = True
            offset += prog.align_offset
            while value_pos < value_end:
                hv, hm = _nibble(s[value_pos])
                lv, lm = _nibble(s[value_pos + 1])
                v, m = (hv << 4) | lv, (hm << 4) | lm
                value_pos += 2
                if mask_pos >= 0:
                    hv, hm = _nibble(s[mask_pos])
                    lv, lm = _nibble(s[mask_pos + 1])
                    mask_pos += 2
                    m &= ((hv << 4) | lv) & ((hm << 4) | lm)
                if first or offset % 4 == 0:
                    prog.add_insn(tree, (offset // 4) * 4, 0, 0)
                    first = empty = False
                shift = (3 - offset % 4) * 8
                e = prog.back()
                e.mask = (e.mask & ~(0xFF << shift)) | (m << shift)
                e.value = (e.value & ~(0xFF << shift)) | ((v & m) << shift)
                offset += 1
            prog.finish_subtree(tree, C_AND)
            if negated:
                prog.negate_subtree(tree)
        if empty:
            prog.add_insn(tree, 0, 0, 0)
        prog.finish_subtree(tree, C_AND, -slot, J_FAILURE)
    prog.finish_subtree(tree, C_OR, J_NEVER, J_NEVER)
    prog.optimize()
    return prog


# --- the element ---------------------------------------------------------------------

cdef class Classifier(Element):
    """=c
    Classifier(PATTERN_1, ..., PATTERN_N)

    =s classification
    classifies packets by contents

    =d
    Has N outputs, one per pattern, and sends each packet to the output of the
    first pattern it matches (packets matching none are dropped).

    A pattern is a list of space-separated clauses "OFFSET/VALUE" or
    "OFFSET/VALUE%MASK": the packet must hold VALUE at byte OFFSET (decimal).
    VALUE and MASK are hex with an even number of digits; "?" is a digit that
    matches anything; only the bits set in MASK are compared. A clause
    preceded by "!" must not match. The pattern "-" matches every packet.
    A clause that reaches past the end of a short packet does not match it
    (so a negated one does).

    The patterns compile into one decision program of 4-byte masked
    comparisons (see the C<program> handler). A warning names outputs no
    packet can reach.

    =h specialized read-only
    "true" when the walk runs straight-line C made for this program by the
    configuration's specialised module (clickpy run --specialize), "false"
    on the generic walk.

    =h program read-only
    The decision program: per step, the offset, value%mask of a 4-byte
    comparison and where each answer leads ("[N]" is output N, "[X]" drop).

    =e
    Ethernet: ARP requests to 0, ARP replies to 1, IP to 2, the rest to 3.

      Classifier(12/0806 20/0001, 12/0806 20/0002, 12/0800, -);

    =a IPClassifier, IPFilter
    """
    port_count = "1/-"
    processing = "h"
    arguments = (Arg("PATTERN", language(_patterns), rest=True, doc="one per output port"),)
    live_reconfigure = True
    replace_on_reload = True  # compiles its patterns; stateless
    handlers = (Read("program", lambda e: e.program_text(), calm=True),
                Read("specialized", lambda e: "true" if e.specialized else "false", calm=True))

    def configure(self, conf, errh):
        values = parse_arguments(self, conf, type(self).arguments, errh)
        if values is None:
            return False
        prog = values["pattern"]
        self._prog = CompiledProgram.build(prog)
        self.program = prog
        return True

    def program_text(self):
        return self.program.unparse() if self.program is not None else ""

    def match_bytes(self, data):
        """The output this element picks for a packet holding data (a value
        of noutputs or more: dropped). For tests and tools."""
        return self._prog.match_bytes(data)

    def fast_walk(self):
        return self._prog.fast_walk() if self._prog is not None else None

    def specialize(self, capsule, str fingerprint):
        return self._prog is not None and self._prog.specialize(capsule, fingerprint)

    @property
    def specialized(self):
        """Whether the walk runs a specialised module's C function."""
        return self._prog is not None and self._prog.fast != NULL

    cdef void push(self, int port, Packet *p) noexcept:
        self.checked_output_push(self._prog.match(pkt_data(p), p.length), p)

    cdef void push_batch(self, int port, Batch *b) noexcept:
        cdef OutputRun run
        cdef CompiledProgram prog = self._prog
        cdef int i, n = b.count
        cdef Packet *p
        run_start(&run)
        b.count = 0
        for i in range(n):
            p = b.p[i]
            run_add(self, &run, prog.match(pkt_data(p), p.length), p)
        run_flush(self, &run)
