# cython: language_level=3
from clickpy.elements.standard.simple_queue cimport SimpleQueue


cdef class NotifierQueue(SimpleQueue):
    # A SimpleQueue with an 'empty' notifier on its output (no 'full' one).
    pass
