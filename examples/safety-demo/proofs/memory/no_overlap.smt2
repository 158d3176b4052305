; Blocks i != j of the pool never overlap (ASIL D). The negation is asserted:
; unsat = proved for every pair of indices below POOL_BLOCKS.
(set-logic QF_LIA)
(declare-const i Int)
(declare-const j Int)
(declare-const a Int)
(define-fun blocks () Int 16)
(define-fun size () Int 64)
(assert (and (>= i 0) (< i blocks) (>= j 0) (< j blocks) (distinct i j)))
; a byte address inside both blocks
(assert (and (>= a (* i size)) (< a (+ (* i size) size))))
(assert (and (>= a (* j size)) (< a (+ (* j size) size))))
(check-sat)
