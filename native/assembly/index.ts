export { maxPoolGrad } from "./pool-grad";
export { im2colT } from "./im2col";
export { gemm } from "./gemm";
export { adam } from "./adam";
export { flipFilter, reluGrad, sumRows } from "./elementwise";
