/* runtime.c: being written */
