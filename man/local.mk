# filled in by its owner

# bhc-arena-slurm(8): installed with the plugin it documents (configure --with-slurm).
if HAVE_SLURM
dist_man_MANS += man/bhc-arena-slurm.8
else
EXTRA_DIST += man/bhc-arena-slurm.8
endif
