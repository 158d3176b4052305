; ringbuf_push/pop: an index below the capacity stays below it after
; (i + 1) % capacity (ASIL D). The negation is asserted: unsat = proved.
(set-logic QF_LIA)
(declare-const i Int)
(define-fun capacity () Int 64)
(assert (and (>= i 0) (< i capacity)))
(assert (not (and (>= (mod (+ i 1) capacity) 0) (< (mod (+ i 1) capacity) capacity))))
(check-sat)
