; The claim "x * 2 > x" is false for non-positive x: the solver finds one.
(set-logic QF_LIA)
(declare-const x Int)
(set-info :name "double_is_larger")
(assert (not (> (* 2 x) x)))
(check-sat)
(get-model)
