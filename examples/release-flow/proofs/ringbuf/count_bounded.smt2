; ringbuf_push only increments count below the capacity, so count never
; exceeds it (ASIL D). The negation is asserted: unsat = proved.
(set-logic QF_LIA)
(declare-const count Int)
(define-fun capacity () Int 64)
(assert (and (>= count 0) (<= count capacity)))
(assert (not (= count capacity)))
(assert (> (+ count 1) capacity))
(check-sat)
