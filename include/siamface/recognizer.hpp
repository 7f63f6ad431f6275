// Kept for code written against earlier releases, which included this header for enrolment and
// identification: include siamface/identify.hpp (and siamface/enroll.hpp) instead.
#pragma once

#include "siamface/enroll.hpp"
#include "siamface/identify.hpp"
