(set-logic QF_LIA)
(declare-const x Int)
(assert (> x undefined_name))
(check-sat)
