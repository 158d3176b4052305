; crc8: one shift-and-xor step keeps the value a byte (ASIL C). 8-bit
; vectors model uint8_t; the negation is asserted: unsat = proved.
(set-logic QF_BV)
(declare-const crc (_ BitVec 8))
(define-fun step ((c (_ BitVec 8))) (_ BitVec 8)
  (ite (= (bvand c #x80) #x80) (bvxor (bvshl c #x01) #x07) (bvshl c #x01)))
(assert (not (bvule (step crc) #xff)))
(check-sat)
