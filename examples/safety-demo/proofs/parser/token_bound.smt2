; A token never extends past the input (ASIL B): start + length <= len.
(set-logic QF_BV)
(declare-const len (_ BitVec 32))
(declare-const start (_ BitVec 32))
(declare-const i (_ BitVec 32))
; the scan stops at i <= len, and start <= i
(assert (bvule i len))
(assert (bvule start i))
(assert (bvugt (bvadd start (bvsub i start)) len))
(check-sat)
