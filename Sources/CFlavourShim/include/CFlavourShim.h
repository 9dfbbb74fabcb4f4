#ifndef CFLAVOURSHIM_H
#define CFLAVOURSHIM_H
/* Fixed-arity wrappers for C interfaces Swift cannot call directly. */
#endif
