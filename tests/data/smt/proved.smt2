; Two obligations on a saturating 8-bit add; each negates the property,
; so "unsat" means it holds.
(set-logic QF_BV)
(declare-const a (_ BitVec 8))
(declare-const b (_ BitVec 8))
(define-fun sat_add ((x (_ BitVec 8)) (y (_ BitVec 8))) (_ BitVec 8)
  (ite (bvult (bvadd x y) x) #xff (bvadd x y)))

; @name result_not_below_operand
(push 1)
(assert (not (bvuge (sat_add a b) a)))
(check-sat)
(pop 1)

; @name commutative
(push 1)
(assert (not (= (sat_add a b) (sat_add b a))))
(check-sat)
(pop 1)
