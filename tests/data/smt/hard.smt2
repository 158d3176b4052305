; 33 as a sum of three cubes: solved only in 2019 with 17-digit numbers.
; No solver finds it within seconds, so a short timeout always expires.
(set-logic QF_NIA)
(declare-const x Int)
(declare-const y Int)
(declare-const z Int)
(assert (= (+ (* x x x) (* y y y) (* z z z)) 33))
(check-sat)
