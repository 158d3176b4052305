; z3 answers "unknown" (non-integral exponents are outside its nonlinear
; reasoning); cvc5 rejects the term with an error.
(declare-const x Real)
(declare-const y Real)
(assert (> x 1.0))
(assert (= (^ 2.0 x) (+ y 3.0)))
(assert (> y x))
(check-sat)
