/* bridge.c: being written */
