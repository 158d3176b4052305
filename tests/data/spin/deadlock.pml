/* Two processes take two locks in opposite order: an invalid end state. */
bool a, b;

active proctype p() { atomic { !a -> a = true }; atomic { !b -> b = true }; a = false; b = false }
active proctype q() { atomic { !b -> b = true }; atomic { !a -> a = true }; b = false; a = false }
