"""Networks: the generators and discriminators, their blocks, and the feature (loss) network."""
