; The ring index stays inside the buffer (QM).
(set-logic QF_BV)
(declare-const head (_ BitVec 32))
(assert (bvuge (bvurem head #x00000020) #x00000020))
(check-sat)
