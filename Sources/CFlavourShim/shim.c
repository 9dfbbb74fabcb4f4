#include "CFlavourShim.h"
