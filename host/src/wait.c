/* wait.c: being written */
