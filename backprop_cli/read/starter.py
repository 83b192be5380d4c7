"""The commented starter spec `backprop init` writes (SPEC §1)."""

STARTER = """\
# A starter network for backprop: edit the numbers, then `backprop solve net.yaml`.
name: My first network
input: [1, 1]                 # one sample; a batch is a list of rows: [[1, 1], [0, 1]]
target: [0]                   # same shape as the output layer (one number per output)
layers:
  - weights: [[0.4352, 0.3545],   # shape (out, in): row j = weights INTO neuron j
              [0.1951, 0.4835]]   # (PyTorch nn.Linear convention: z = W x + b)
    bias: [-0.1419, 0.0439]       # one per neuron, one shared number, or omit for none
    activation: sigmoid           # identity, sigmoid, tanh, relu, leaky_relu, softmax
  - weights: [[-0.1725, 0.1129]]
    bias: [-0.3043]
    activation: sigmoid
    # freeze: [bias]              # parameters of this layer that are not updated
loss: bce                     # mse, sse, half_sse, bce, cross_entropy
reduction: mean               # mean (default) or sum
optimizer: {name: sgd, lr: 1} # or adam: {name: adam, lr: 0.01, betas: [0.9, 0.999]}
steps: 1                      # training steps on the same input
# notation: mazur             # display only: standard, mazur, hidden_output, indexed
"""
