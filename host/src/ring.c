/* ring.c: being written */
