/* dispatch.c: being written */
