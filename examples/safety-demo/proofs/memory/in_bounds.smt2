; Every block lies inside the storage array (ASIL D).
(set-logic QF_LIA)
(declare-const i Int)
(define-fun blocks () Int 16)
(define-fun size () Int 64)
(assert (and (>= i 0) (< i blocks)))
(assert (> (+ (* i size) size) (* blocks size)))
(check-sat)
