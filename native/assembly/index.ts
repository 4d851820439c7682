export { maxPoolGrad } from "./pool-grad";
export { im2colT } from "./im2col";
export { gemm } from "./gemm";
