/* placement.c: being written */
