export { maxPoolGrad } from "./pool-grad";
export { im2colT } from "./im2col";
export { gemm } from "./gemm";
export { adam } from "./adam";
export { clipGrad, flipFilter, reluGrad, sumRows } from "./elementwise";
export { batchNormGrad, channelAffine } from "./batch-norm";
export { depthwiseFilterGrad } from "./depthwise";
