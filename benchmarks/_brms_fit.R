# Fit the negative-binomial GLMM with brms (Stan NUTS) to long-format counts handed over by glmm_agreement.py.
#
# Model (one row per neuron x trial of data.csv):
#
#   count ~ <formula> + offset(log(duration)),  shape ~ 0 + neuron,  family = negbinomial
#   Var = mu + mu^2 / shape  (shape is spikepool's alpha, one per neuron, log link)
#
# Priors: brms's defaults (flat fixed effects, student_t(3, 0, 2.5) SDs, lkj(1)), except the log shapes,
# which get spikepool's Normal(log_alpha_loc, log_alpha_scale) from config.json (flat would be improper).
# config.json: "formula", "chains", "iter" (per chain, half warm-up), "seed", "log_alpha_loc",
# "log_alpha_scale". Writes draws.csv (chain, draw and the fixed effects b_*, the SDs sd_* and
# correlations cor_*) and out.json (wall time of the brm call, Stan's warm-up + sampling time per chain,
# divergences, versions).
#
# Usage (by glmm_agreement.py):  Rscript _brms_fit.R data.csv config.json out.json draws.csv

suppressPackageStartupMessages({
  library(brms)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 4) stop("usage: Rscript _brms_fit.R data.csv config.json out.json draws.csv")
config <- fromJSON(args[2], simplifyVector = TRUE)
data <- read.csv(args[1], stringsAsFactors = FALSE)
data$neuron <- factor(data$neuron, levels = unique(data$neuron))

model <- bf(as.formula(paste(config$formula, "+ offset(log(duration))")), shape ~ 0 + neuron)
shape_prior <- sprintf("normal(%g, %g)", config$log_alpha_loc, config$log_alpha_scale)
start <- proc.time()[["elapsed"]]
fit <- brm(
  model, data = data, family = negbinomial(), prior = set_prior(shape_prior, class = "b", dpar = "shape"),
  chains = config$chains, cores = config$chains, iter = config$iter, seed = config$seed,
  refresh = 0, silent = 2
)
wall <- proc.time()[["elapsed"]] - start

elapsed <- rstan::get_elapsed_time(fit$fit)
draws <- as_draws_df(fit)
keep <- grep("^(b_|sd_|cor_)", names(draws), value = TRUE)
keep <- keep[!grepl("^b_shape", keep)]
table <- data.frame(chain = draws$.chain, draw = draws$.iteration, as.data.frame(draws)[, keep], check.names = FALSE)
write.csv(table, args[4], row.names = FALSE)
sampler <- rstan::get_sampler_params(fit$fit, inc_warmup = FALSE)
out <- list(
  wall_s = wall,
  warmup_s = as.list(unname(elapsed[, "warmup"])),
  sample_s = as.list(unname(elapsed[, "sample"])),
  divergences = sum(sapply(sampler, function(s) sum(s[, "divergent__"]))),
  max_rhat = max(rhat(fit), na.rm = TRUE),
  versions = list(
    R = R.version.string, brms = as.character(packageVersion("brms")),
    rstan = as.character(packageVersion("rstan"))
  )
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), args[3])
