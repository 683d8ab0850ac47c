"""Training: the one fit loop and the trainers of the autoencoders and the BLSTM."""
