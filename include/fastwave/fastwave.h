// Everything a program needs to load, run and evaluate fastwave models.
#pragma once

#include "fastwave/audio.h"
#include "fastwave/config.h"
#include "fastwave/distribution.h"
#include "fastwave/error.h"
#include "fastwave/evaluate.h"
#include "fastwave/generator.h"
#include "fastwave/memory.h"
#include "fastwave/mixed_precision.h"
#include "fastwave/model.h"
#include "fastwave/network.h"
#include "fastwave/quantize.h"
#include "fastwave/vocoder.h"
